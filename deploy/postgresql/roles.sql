-- Roles for ossmedia on one PostgreSQL database (run once as a superuser, connected to the
-- database ossmedia will use, before any migration):
--
--   createdb ossmedia
--   psql -d ossmedia -f roles.sql
--   psql -d ossmedia -c "ALTER ROLE ossmedia_registry PASSWORD '...'"   (and the other two)
--
-- ossmedia_registry   owns the registry tables; runs 'ossmedia devices migrate' and, from the
--                     provisioning host, 'ossmedia devices add/rotate/revoke/delete'.
-- ossmedia_console    owns the ledger tables (runs 'ossmedia console migrate'); provisions,
--                     rotates and revokes devices from the console: rows of the registry,
--                     never its schema.
-- ossmedia_responder  reads the registry; no access to the ledger at all.
--
-- None is a superuser, none may create databases or roles. The master key that encrypts
-- device secrets is never stored in the database: only sealed secrets are.

CREATE ROLE ossmedia_registry LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE ROLE ossmedia_console LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE ROLE ossmedia_responder LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;

-- Nobody else may create objects in the schema (PostgreSQL 15 and later already say so).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ossmedia_registry, ossmedia_console, ossmedia_responder;
GRANT CREATE ON SCHEMA public TO ossmedia_registry, ossmedia_console;

-- Every table the registry's migrations create: readable by the responder, rows writable by
-- the console. Tables the console creates (the ledger) get no grant: they stay its own.
ALTER DEFAULT PRIVILEGES FOR ROLE ossmedia_registry IN SCHEMA public
    GRANT SELECT ON TABLES TO ossmedia_responder;
ALTER DEFAULT PRIVILEGES FOR ROLE ossmedia_registry IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ossmedia_console;
