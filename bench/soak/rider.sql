\set r random(1, :nriders)
SELECT soak.rider(:r);
