-- Nova Corrente ERP (simulated source system), database `erp`, schema `erp`.
-- This is the contract the extract step reads: every table has `updated_at` (UTC), the
-- incremental watermark column. Rows are updated in place (e.g. a purchase order is received);
-- the warehouse keeps every extracted version and staging picks the latest per key.

create schema if not exists erp;

create table if not exists erp.material_families (
    family_id       text primary key,           -- 'ENERGY_BATTERY'
    family_name     text not null,               -- 'Batteries'
    category        text not null check (category in ('energy', 'transmission', 'connectivity', 'structural')),
    updated_at      timestamptz not null
);

create table if not exists erp.materials (
    material_id     text primary key,            -- 'MAT-00001'
    material_name   text not null,
    family_id       text not null references erp.material_families (family_id),
    unit_of_measure text not null,               -- 'unit', 'm', 'kit'
    unit_cost_brl   numeric(12, 2) not null check (unit_cost_brl >= 0),
    is_active       boolean not null default true,
    created_at      timestamptz not null,
    updated_at      timestamptz not null
);

create table if not exists erp.sites (
    site_id          text primary key,            -- 'SITE-0001' (a tower site)
    site_name        text not null,
    city             text not null,               -- Bahia city, e.g. 'Salvador'
    region           text not null,               -- 'Metropolitana de Salvador', 'Sul Baiano', ...
    latitude         numeric(9, 6) not null,
    longitude        numeric(9, 6) not null,
    sla_tier         text not null check (sla_tier in ('gold', 'silver', 'bronze')),
    is_active        boolean not null default true,
    commissioned_date date not null,
    updated_at       timestamptz not null
);

create table if not exists erp.suppliers (
    supplier_id     text primary key,             -- 'SUP-001'
    supplier_name   text not null,
    city            text not null,
    state           text not null,                -- 'BA', 'SP', ...
    is_active       boolean not null default true,
    updated_at      timestamptz not null
);

-- which supplier sells which material, with the contractual lead time
create table if not exists erp.supplier_materials (
    supplier_id              text not null references erp.suppliers (supplier_id),
    material_id              text not null references erp.materials (material_id),
    quoted_lead_time_days    integer not null check (quoted_lead_time_days > 0),
    unit_price_brl           numeric(12, 2) not null check (unit_price_brl >= 0),
    is_preferred             boolean not null default false,
    updated_at               timestamptz not null,
    primary key (supplier_id, material_id)
);

-- one material per order line; an order is received once (quantity may differ)
create table if not exists erp.purchase_orders (
    purchase_order_id   text primary key,         -- 'PO-000001'
    supplier_id         text not null references erp.suppliers (supplier_id),
    material_id         text not null references erp.materials (material_id),
    site_id             text not null references erp.sites (site_id),  -- destination
    order_date          date not null,
    expected_date       date not null,
    received_date       date,                     -- null while open
    quantity_ordered    numeric(12, 2) not null check (quantity_ordered > 0),
    quantity_received   numeric(12, 2),
    unit_price_brl      numeric(12, 2) not null,
    status              text not null check (status in ('open', 'received', 'cancelled')),
    created_at          timestamptz not null,
    updated_at          timestamptz not null
);

-- every stock movement; quantity is always positive, the type gives the direction
create table if not exists erp.stock_movements (
    movement_id         bigint primary key,
    material_id         text not null references erp.materials (material_id),
    site_id             text not null references erp.sites (site_id),
    movement_type       text not null check (movement_type in
                            ('consumption', 'receipt', 'transfer_in', 'transfer_out', 'adjustment', 'return')),
    movement_date       date not null,
    quantity            numeric(12, 2) not null,  -- > 0, except adjustments which may be negative
    purchase_order_id   text references erp.purchase_orders (purchase_order_id),
    created_at          timestamptz not null,
    updated_at          timestamptz not null
);

-- current stock per material and site; a row here means the site stocks the material
create table if not exists erp.stock_on_hand (
    material_id         text not null references erp.materials (material_id),
    site_id             text not null references erp.sites (site_id),
    quantity_on_hand    numeric(12, 2) not null,
    updated_at          timestamptz not null,
    primary key (material_id, site_id)
);

create index if not exists stock_movements_updated_at_idx on erp.stock_movements (updated_at);
create index if not exists purchase_orders_updated_at_idx on erp.purchase_orders (updated_at);
create index if not exists stock_movements_purchase_order_id_idx on erp.stock_movements (purchase_order_id);
