// table: doctors
// Doctors and pharmacists, where they work and their (pseudonymised) phone.
MATCH (d:Doctor)
OPTIONAL MATCH (d)-[:WORKS_AT]->(w)
OPTIONAL MATCH (d)-[:HAS_PHONE]->(ph:Phone)
RETURN d.doctor_id AS doctor_id, d.name_pseudonym AS name,
       coalesce(w.institution_id, w.pharmacy_id) AS institution_id,
       d.department AS department, d.title AS title, ph.key AS phone
