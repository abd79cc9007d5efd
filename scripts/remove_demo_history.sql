-- Remove the demo district's history (docs/DEMO.md "Removing it"), by its markers: ids
-- beginning de30de30-, events' source_system demo_history. One transaction: all or nothing.
-- Run as the owner role or a superuser (the case file is append-only for the services:
-- only its owner may set its trigger aside, here for these rows and this transaction), with
-- the services stopped (make down):
--     psql -h 127.0.0.1 -U postgres -d gridgov -v ON_ERROR_STOP=1 -f scripts/remove_demo_history.sql
-- The owner role is gridgov_owner unless GRIDGOV_DB_OWNER names another: edit SET ROLE then.
-- Reports made from these figures (circulars, appraisal reports) are immutable records and
-- stay; the demo district itself (the registry) stays too.
BEGIN;
SET LOCAL ROLE gridgov_owner;
DELETE FROM events.cases WHERE source_system = 'demo_history';
DELETE FROM dispatch.escalations WHERE case_id::text LIKE 'de30de30-%';
DELETE FROM dispatch.deadline_reminders WHERE case_id::text LIKE 'de30de30-%';
DELETE FROM dispatch.delay_requests WHERE case_id::text LIKE 'de30de30-%';
DELETE FROM dispatch.assignments WHERE case_id::text LIKE 'de30de30-%';
ALTER TABLE dispatch.case_file DISABLE TRIGGER case_file_append_only;
DELETE FROM dispatch.case_file WHERE case_id::text LIKE 'de30de30-%';
ALTER TABLE dispatch.case_file ENABLE TRIGGER case_file_append_only;
DELETE FROM dispatch.cases WHERE case_id::text LIKE 'de30de30-%';
DELETE FROM assessment.patrols WHERE patrol_id::text LIKE 'de30de30-%';
DELETE FROM assessment.meetings WHERE meeting_id::text LIKE 'de30de30-%';
DELETE FROM assessment.spot_checks WHERE check_id::text LIKE 'de30de30-%';
COMMIT;
