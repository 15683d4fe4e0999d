# Airflow image for docker-compose.airflow.yml: the official Airflow 3.3 image plus the platform's
# pinned requirements and code, with the dbt manifest parsed at build time (the DAG renders its dbt
# tasks from it).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements.txt /opt/nova/requirements.txt
RUN pip install --no-cache-dir -r /opt/nova/requirements.txt
COPY --chown=airflow:root . /opt/nova
RUN pip install --no-cache-dir --no-deps -e /opt/nova \
 && cd /opt/nova/dbt_project \
 && NOVA_DBT_HOST=postgres NOVA_DBT_PORT=5432 NOVA_DBT_USER=x NOVA_DBT_PASSWORD=x NOVA_DBT_DBNAME=warehouse \
    dbt parse --profiles-dir /opt/nova/dbt_project
WORKDIR /opt/nova
