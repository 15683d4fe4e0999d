-- First start of the compose PostgreSQL: the platform's other two databases (warehouse is POSTGRES_DB).
create database erp;
create database airflow;
