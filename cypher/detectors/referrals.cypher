// table: referrals
// Referrals: one REFERRED relationship per referral, between providers.
MATCH (a)-[r:REFERRED]->(b)
RETURN r.referral_id AS referral_id, r.person_id AS person_id,
       coalesce(a.institution_id, a.pharmacy_id) AS from_provider_id,
       coalesce(b.institution_id, b.pharmacy_id) AS to_provider_id,
       toString(r.date) AS referral_date, r.doctor_id AS doctor_id,
       r.diagnosis_code AS diagnosis_code
