SELECT soak.merchant();
\sleep 50 ms
