// Uniqueness constraints and indexes for the ringfinder graph model.
// One uniqueness constraint per node label's key (ringfinder.neo4j.model.KEYS); referrals
// are REFERRED relationships, not nodes. Idempotent: every statement uses IF NOT EXISTS.
// Run with cypher-shell -f schema.cypher.
// Order (for the bulk import's schema step, which runs two statements at a time): the
// property indexes first (CREATE INDEX returns at once and the server builds them
// in the background), then the largest label's constraint, so it is not left alone last.
CREATE INDEX claim_start IF NOT EXISTS FOR (n:Claim) ON (n.start_time);
CREATE INDEX claim_visit_type IF NOT EXISTS FOR (n:Claim) ON (n.visit_type);
CREATE INDEX referred_person IF NOT EXISTS FOR ()-[r:REFERRED]-() ON (r.person_id);
CREATE CONSTRAINT claim_id IF NOT EXISTS FOR (n:Claim) REQUIRE n.claim_id IS UNIQUE;
CREATE CONSTRAINT person_id IF NOT EXISTS FOR (n:Person) REQUIRE n.person_id IS UNIQUE;
CREATE CONSTRAINT card_id IF NOT EXISTS FOR (n:Card) REQUIRE n.card_id IS UNIQUE;
CREATE CONSTRAINT institution_id IF NOT EXISTS FOR (n:Institution) REQUIRE n.institution_id IS UNIQUE;
CREATE CONSTRAINT pharmacy_id IF NOT EXISTS FOR (n:Pharmacy) REQUIRE n.pharmacy_id IS UNIQUE;
CREATE CONSTRAINT doctor_id IF NOT EXISTS FOR (n:Doctor) REQUIRE n.doctor_id IS UNIQUE;
CREATE CONSTRAINT reimbursement_id IF NOT EXISTS FOR (n:Reimbursement) REQUIRE n.reimbursement_id IS UNIQUE;
CREATE CONSTRAINT invoice_id IF NOT EXISTS FOR (n:Invoice) REQUIRE n.invoice_id IS UNIQUE;
CREATE CONSTRAINT item_code IF NOT EXISTS FOR (n:Item) REQUIRE n.item_code IS UNIQUE;
CREATE CONSTRAINT phone_key IF NOT EXISTS FOR (n:Phone) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT address_key IF NOT EXISTS FOR (n:Address) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT account_key IF NOT EXISTS FOR (n:Account) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT terminal_key IF NOT EXISTS FOR (n:Terminal) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT handler_key IF NOT EXISTS FOR (n:Handler) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT region_code IF NOT EXISTS FOR (n:Region) REQUIRE n.region_code IS UNIQUE;
CREATE CONSTRAINT lead_id IF NOT EXISTS FOR (n:Lead) REQUIRE n.lead_id IS UNIQUE;
CREATE CONSTRAINT community_id IF NOT EXISTS FOR (n:Community) REQUIRE n.community_id IS UNIQUE;
