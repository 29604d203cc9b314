-- GIN twins for FerretDB's indexes, so that its finds use an index at all.
--
-- FerretDB 1.24 (PostgreSQL backend) turns each top-level equality of a filter into
-- `_jsonb->$1 @> $2`, and makes each index of `createIndexes` a btree on `(_jsonb -> 'field')`.
-- `@>` is not a btree operator, so no find ever uses those indexes: every find, by `_id`
-- included, is a sequential scan of its collection. Planned with the parameters' values (a
-- custom plan, forced below for every session of this database), `_jsonb->$1` becomes
-- `_jsonb -> 'field'`, and a GIN index (jsonb_path_ops supports `@>`) on that same expression
-- serves it. This file gives the first key of every btree index FerretDB makes such a
-- twin: now for the indexes that exist, and from now on, by an event trigger, for each index
-- FerretDB creates. Applied by `stack.sh up` to FerretDB's database; idempotent.

CREATE OR REPLACE FUNCTION supervision_gin_twin(index_oid oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    definition text := pg_get_indexdef(index_oid);
    field text;
    target regclass;
    twin text;
BEGIN
    -- Only a btree whose first key is a top-level field: `USING btree (((_jsonb -> 'f'::text))`.
    field := substring(definition FROM $re$USING btree \(\(\(_jsonb -> '([^']+)'::text\)\)$re$);
    IF field IS NULL THEN
        RETURN;
    END IF;
    SELECT i.indrelid::regclass, c.relname INTO target, twin
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE i.indexrelid = index_oid;
    -- One twin per table and field, however many btrees start with the field.
    twin := left(twin, 40) || '_' || left(md5(field), 8) || '_gin';
    -- Two of FerretDB's transactions making indexes that start with the same field at once
    -- both reach here; the second one's IF NOT EXISTS cannot see the first one's uncommitted
    -- twin and fails on the catalog's unique name, which must not fail FerretDB's command.
    BEGIN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)',
                       twin, target, field);
    EXCEPTION WHEN unique_violation OR duplicate_table THEN
        NULL;  -- the other transaction made it
    END;
END;
$$;

CREATE OR REPLACE FUNCTION supervision_gin_twins_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    command record;
BEGIN
    FOR command IN SELECT objid FROM pg_event_trigger_ddl_commands()
                   WHERE command_tag = 'CREATE INDEX' LOOP
        PERFORM supervision_gin_twin(command.objid);
    END LOOP;
END;
$$;

SET client_min_messages = warning;

DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan', current_database());
END;
$$;

DROP EVENT TRIGGER IF EXISTS supervision_gin_twins;
CREATE EVENT TRIGGER supervision_gin_twins ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
    EXECUTE FUNCTION supervision_gin_twins_on_create();

-- The indexes made before this file was applied.
DO $$
BEGIN
    PERFORM supervision_gin_twin(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%';
END;
$$;
