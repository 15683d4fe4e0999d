"""docker-compose.airflow.yml: no engine here, so its structure is checked against the local path."""


import yaml

from nova_corrente.airflow_env import airflow_env
from nova_corrente.settings import COMPONENT_ROLES, REPO_ROOT, component_env_prefix

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
    for key in ("NOVA_DBT_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert env[key].startswith("${") and ":?" in env[key], key
    assert "POSTGRES_PASSWORD: ${NOVA_PG_PASSWORD" in text
    init_sql = (REPO_ROOT / "docker" / "create-databases.sql").read_text()
    assert "create database erp" in init_sql and "create database airflow" in init_sql


def test_compose_components_log_in_as_their_own_roles():
    """The same roles as the local path: every Airflow service and task gets the components' logins,
    the administrator's only reaches airflow-init, which creates the roles before the migration."""
    services = _compose()["services"]
    env = _compose()["x-nova-env"]
    for component in ("erp_reader", "loader", "transformer", "forecaster", "airflow"):
        value = env[f"{component_env_prefix(component)}_PASSWORD"]
        assert value == f"${{{component_env_prefix(component)}_PASSWORD:?set {component_env_prefix(component)}_PASSWORD}}"
    assert env["NOVA_DBT_USER"] == COMPONENT_ROLES["transformer"]
    assert env["NOVA_DBT_PASSWORD"].startswith("${NOVA_PG_TRANSFORMER_PASSWORD:?")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
        f"postgresql+psycopg2://{COMPONENT_ROLES['airflow']}:${{NOVA_PG_AIRFLOW_PASSWORD:?")
    for name in AIRFLOW_SERVICES:
        service_env = services[name]["environment"]
        assert "NOVA_PG_USER" not in service_env and "NOVA_PG_PASSWORD" not in service_env, name
    init = services["airflow-init"]
    assert init["environment"]["NOVA_PG_USER"] == "nova"
    assert init["environment"]["NOVA_PG_PASSWORD"].startswith("${NOVA_PG_PASSWORD:?")
    assert init["command"][-1].startswith("nova db roles --apply && airflow db migrate")
