// stage: fake_invoice, agent links
// Each window reimbursement with its claimant's household (the address, else the
// person) and unit (the employer, else the household), and its submitter phone and
// payee account when they are not the claimant's own: a foreign identifier, an agent's.
// The fake_invoice detector joins claimants through the foreign identifiers that reach
// two or more households, and through invoice pads.
MATCH (r:Reimbursement)-[:BY_PERSON]->(p:Person)
OPTIONAL MATCH (r)-[:HANDLED_BY]->(h:Handler)
OPTIONAL MATCH (r)-[:SUBMITTED_BY]->(sp:Phone)
OPTIONAL MATCH (r)-[:PAID_TO]->(pa:Account)
OPTIONAL MATCH (p)-[:HAS_PHONE]->(own:Phone)
OPTIONAL MATCH (p)-[:HAS_ACCOUNT]->(acc:Account)
OPTIONAL MATCH (p)-[:HAS_ADDRESS]->(ad:Address)
RETURN r.reimbursement_id AS rid, p.person_id AS pid, toString(r.submitted_date) AS d,
       r.amount_claimed AS amount, h.key AS handler,
       CASE WHEN sp IS NOT NULL AND (own IS NULL OR sp.key <> own.key) THEN sp.key END
           AS fphone,
       CASE WHEN pa IS NOT NULL AND (acc IS NULL OR pa.key <> acc.key) THEN pa.key END
           AS facct,
       coalesce('a:' + ad.key, 'p:' + p.person_id) AS hh,
       coalesce('e:' + p.employer_id, 'a:' + ad.key, 'p:' + p.person_id) AS unit
