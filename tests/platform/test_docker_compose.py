"""docker-compose.airflow.yml: no engine here, so its structure is checked against the local path."""


import yaml

from nova_corrente.airflow_env import airflow_env
from nova_corrente.settings import COMPONENT_ROLES, DBT_RUN_FLAGS, REPO_ROOT, component_env_prefix

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
    # one knob selects the executor on both paths, LocalExecutor unless told otherwise
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${NOVA_AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert local["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["NOVA_PG_HOST"] == "postgres" and env["NOVA_DBT_HOST"] == "postgres"
    # dbt runs with the platform's flags on both paths (unit tests in CI only)
    assert {name: env[name] for name in DBT_RUN_FLAGS} == DBT_RUN_FLAGS


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


def test_compose_celery_profile_adds_a_broker_and_workers_with_the_same_configuration(pg, tmp_path, monkeypatch):
    compose = _compose()
    services = compose["services"]
    assert services["redis"]["profiles"] == ["celery"] and services["redis"]["image"].startswith("redis:")
    worker = services["airflow-worker"]
    assert worker["profiles"] == ["celery"]
    assert worker["environment"] is compose["x-nova-env"]  # the same configuration as every service
    assert worker["command"][-1].endswith("exec airflow celery worker")
    assert "CeleryExecutor" in worker["command"][-1]  # refuses to start under another executor
    assert worker["deploy"]["replicas"] >= 2
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    # the services without a profile run as before (LocalExecutor unless NOVA_AIRFLOW_EXECUTOR says so)
    assert not any("profiles" in services[name] for name in ("postgres", "airflow-init", *AIRFLOW_SERVICES))
    env = compose["x-nova-env"]
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    # Celery's results live in Airflow's database, under Airflow's own role
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith(
        f"db+postgresql://{COMPONENT_ROLES['airflow']}:${{NOVA_PG_AIRFLOW_PASSWORD:?")
    # the local path selects Celery with the same knob and the same settings
    monkeypatch.setenv("NOVA_AIRFLOW_EXECUTOR", "CeleryExecutor")
    local = airflow_env(pg, home=tmp_path)
    assert local["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert local["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]
    assert local["AIRFLOW__CELERY__RESULT_BACKEND"].startswith(f"db+postgresql://{COMPONENT_ROLES['airflow']}:")
