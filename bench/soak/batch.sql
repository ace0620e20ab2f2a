SELECT dispatch.assign_batch(1);
\sleep 200 ms
