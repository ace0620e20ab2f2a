SELECT soak.cancel();
\sleep 50 ms
