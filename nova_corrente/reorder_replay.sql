-- The weekly replay's evidence (nova_corrente.reorder_replay): per active material-site and
-- reorder-point method, how the method's reorder point as of `as_of_date` fared over the days after
-- it. Created by the platform's setup (nova_corrente.db_roles: owned by nova_forecaster, read by
-- dbt through stg_replay__reorder_point_replays). Replaced whole by each replay.
create table if not exists marts.reorder_point_replays (
    material_id          text not null,
    site_id              text not null,
    method               text not null check (method in ('empirical_ltd', 'seasonal_ltd')),
    as_of_date           date not null,
    replay_days          integer not null check (replay_days > 0),
    lead_time_draws      integer not null check (lead_time_draws > 0),
    service_level        numeric(6, 5) not null check (service_level > 0 and service_level < 1),
    cycles               integer not null check (cycles >= 0),
    stockout_cycles      integer not null check (stockout_cycles >= 0 and stockout_cycles <= cycles),
    average_on_hand      double precision not null check (average_on_hand >= 0),
    average_reorder_point double precision not null,
    replayed_at          timestamptz not null,
    primary key (material_id, site_id, method)
);
