"""PostgreSQL: the references of ``finding_works`` checked once per statement instead of once per row.

A 10k-feature upload writes ~100k findings and ~230k links to them and to the works. A foreign
key checks every link on its own (a query and a row lock per link and per reference). Here the
two foreign keys of ``finding_works`` are replaced by triggers that do the same for all the links
a statement writes at once. Measured on the bench (230k links in one statement, 100k works):
1.6–1.9 s with the triggers, 3.1–3.2 s with the foreign keys, 0.54 s unchecked:

* after an insert or update of links: the referenced works and findings are locked ``FOR KEY
  SHARE`` by index (as a foreign key locks them, so that no one deletes them before this
  transaction ends); every link must name a finding and a work so locked, or the statement
  fails with ``foreign_key_violation``;
* after a delete of findings or works: their links are deleted (``ON DELETE CASCADE``);
* both look rows up by primary key only (``enable_seqscan`` off inside them, whatever the
  statistics said when their plans were cached);
* ids of findings and works never change (a foreign key would refuse or cascade the change).

SQLite keeps its foreign keys (it checks them cheaply, in-process).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: ``(constraint, column, referenced table)`` of the foreign keys replaced on PostgreSQL.
REFERENCES = (
    ("fk_finding_works_finding_id_findings", "finding_id", "findings"),
    ("fk_finding_works_work_pk_works", "work_pk", "works"),
)

_CHECK_LINKS = """
CREATE FUNCTION finding_works_references() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    locked bigint;
    bad record;
BEGIN
    -- lock the rows named (as a foreign key does; a concurrent delete waits for this transaction,
    -- and a row deleted meanwhile is skipped), by index: ids = ANY(array), and no sequential scan
    -- (SET enable_seqscan = off above). The plan is cached for the session: made while the tables
    -- were small, a scan of the whole table testing each row against the array (linear in its
    -- size) took 1-3.6 s per 30k links once the table had grown. Then every distinct id named
    -- must have been locked
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM works AS w WHERE w.id = ANY(ARRAY(SELECT DISTINCT work_pk FROM added))
        FOR KEY SHARE OF w) AS x;
    IF locked = (SELECT count(DISTINCT work_pk) FROM added) THEN
        SELECT count(*) INTO locked FROM (
            SELECT 1 FROM findings AS f WHERE f.id = ANY(ARRAY(SELECT DISTINCT finding_id FROM added))
            FOR KEY SHARE OF f) AS x;
        IF locked = (SELECT count(DISTINCT finding_id) FROM added) THEN
            RETURN NULL;
        END IF;
    END IF;
    SELECT a.finding_id, a.work_pk INTO bad FROM added AS a
     WHERE NOT EXISTS (SELECT 1 FROM findings AS f WHERE f.id = a.finding_id)
        OR NOT EXISTS (SELECT 1 FROM works AS w WHERE w.id = a.work_pk)
     LIMIT 1;
    RAISE EXCEPTION USING
        ERRCODE = 'foreign_key_violation',
        MESSAGE = format('检查结果关联引用了不存在的检查结果 %s 或工程 %s / '
                         'finding link (%s, %s) names a finding or work that does not exist',
                         bad.finding_id, bad.work_pk, bad.finding_id, bad.work_pk),
        TABLE = 'finding_works';
END $$
"""

_CASCADE = """
CREATE FUNCTION finding_works_cascade() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    IF TG_TABLE_NAME = 'findings' THEN
        DELETE FROM finding_works WHERE finding_id = ANY(ARRAY(SELECT id FROM gone));
    ELSE
        DELETE FROM finding_works WHERE work_pk = ANY(ARRAY(SELECT id FROM gone));
    END IF;
    RETURN NULL;
END $$
"""

_FIXED_ID = """
CREATE FUNCTION finding_works_fixed_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = format('%s 的编号不能修改 / the id of a row of %s cannot change', TG_TABLE_NAME, TG_TABLE_NAME);
    END IF;
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    """Replace the two foreign keys of ``finding_works`` by per-statement triggers (PostgreSQL)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _column, _table in REFERENCES:
        op.drop_constraint(name, "finding_works", type_="foreignkey")
    op.execute(_CHECK_LINKS)
    op.execute(_CASCADE)
    op.execute(_FIXED_ID)
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER finding_works_references_{event.lower()} AFTER {event} ON finding_works "
            "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION finding_works_references()"
        )
    for table in ("findings", "works"):
        op.execute(
            f"CREATE TRIGGER {table}_cascade_links AFTER DELETE ON {table} "
            "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION finding_works_cascade()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fixed_id BEFORE UPDATE OF id ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION finding_works_fixed_id()"
        )


def downgrade() -> None:
    """Drop the triggers and restore the foreign keys (PostgreSQL)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("findings", "works"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_fixed_id ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_cascade_links ON {table}")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS finding_works_references_{event} ON finding_works")
    for function in ("finding_works_fixed_id", "finding_works_cascade", "finding_works_references"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    for name, column, table in REFERENCES:
        op.create_foreign_key(name, "finding_works", table, [column], ["id"], ondelete="CASCADE")
