"""docker-compose.airflow.yml: no engine here, so its structure is checked against the local path."""


import yaml

from nova_corrente.airflow_env import airflow_env
from nova_corrente.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.airflow.yml"
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_postgres_and_every_airflow_service():
    services = _compose()["services"]
    assert {"postgres", "airflow-init", *AIRFLOW_SERVICES} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["command"][:2] == ["airflow", name.removeprefix("airflow-").replace("apiserver", "api-server")]
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (REPO_ROOT / services["airflow-apiserver"]["build"]["dockerfile"]).exists()


def test_compose_configuration_matches_the_local_path(pg, tmp_path):
    """Every setting the local Airflow gets is also set in compose (values may differ: paths, hosts)."""
    env = _compose()["x-nova-env"]
    local = airflow_env(pg, home=tmp_path)
    assert set(local) - set(env) == set(), "settings missing from compose"
    assert env["AIRFLOW__CORE__EXECUTOR"] == local["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["NOVA_PG_HOST"] == "postgres" and env["NOVA_DBT_HOST"] == "postgres"


def test_compose_takes_secrets_from_the_environment():
    text = COMPOSE.read_text()
    env = _compose()["x-nova-env"]
    for key in ("NOVA_PG_PASSWORD", "NOVA_DBT_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert env[key].startswith("${") and ":?" in env[key], key
    assert "${NOVA_PG_PASSWORD:?" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "POSTGRES_PASSWORD: ${NOVA_PG_PASSWORD" in text
    init_sql = (REPO_ROOT / "docker" / "create-databases.sql").read_text()
    assert "create database erp" in init_sql and "create database airflow" in init_sql
