-- The forecast task's tables (nova_forecast.warehouse). Created by the platform's setup
-- (nova_corrente.db_roles: owned by nova_forecaster, which may not create tables itself) or by
-- ensure_forecast_tables for a login that may.
create schema if not exists marts;

create table if not exists marts.forecast_runs (
    run_id            text primary key,
    model_version     text not null,
    generated_at      timestamptz not null,
    source            text not null,
    dataset_id        text not null,
    parameters        jsonb not null,
    data_fingerprint  text not null,
    metrics           jsonb not null,
    series_count      integer not null check (series_count >= 0)
);

create index if not exists forecast_runs_generated_at_idx on marts.forecast_runs (generated_at desc);

create table if not exists marts.forecast_values (
    run_id          text not null references marts.forecast_runs (run_id) on delete cascade,
    material_id     text not null,
    site_id         text not null,
    forecast_date   date not null,
    yhat            double precision not null,
    yhat_lo_80      double precision not null,
    yhat_hi_80      double precision not null,
    yhat_lo_95      double precision not null,
    yhat_hi_95      double precision not null,
    model           text not null,
    demand_class    text not null,
    model_version   text not null,
    generated_at    timestamptz not null,
    source          text not null,
    dataset_id      text not null,
    yhat_q90        double precision,  -- service-level quantiles (NULL when not computed)
    yhat_q95        double precision,
    yhat_q99        double precision,
    primary key (run_id, material_id, site_id, forecast_date),
    constraint forecast_values_bounds_ordered check (
        0 <= yhat_lo_95 and yhat_lo_95 <= yhat_lo_80 and yhat_lo_80 <= yhat
        and yhat <= yhat_hi_80 and yhat_hi_80 <= yhat_hi_95
    )
);

-- The shards of a run before it is published (nova_forecast.warehouse.forecast_shard / publish_run):
-- the forecaster's own schema, granted to no one else, so BI never sees a half run.
create schema if not exists forecast_staging;

create table if not exists forecast_staging.forecast_parts (
    run_id        text not null,
    shard         integer not null check (shard >= 0),
    shard_count   integer not null check (shard_count > shard),
    series_count  integer not null check (series_count >= 0),
    worker        text not null,
    seconds       double precision not null,
    staged_at     timestamptz not null default now(),
    payload       bytea not null,  -- the shard's backtest and fits (zlib-compressed pickle)
    primary key (run_id, shard)
);
