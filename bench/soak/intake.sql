\set c random(1, :ncust)
\set dx random(0, 20000)
SELECT soak.intake(:c, :dx);
