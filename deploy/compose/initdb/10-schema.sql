-- The schema of the workers' search_path (DATABASE_URL in
-- docker-compose.yml); `worker migrate` creates the tables in it. Run by the
-- postgres image on the first start of an empty volume.
CREATE SCHEMA IF NOT EXISTS qf AUTHORIZATION quantumflow;
