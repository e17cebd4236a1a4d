// table: reimbursements
// Window reimbursements with their claimant, handler, submitter phone and payee account.
MATCH (r:Reimbursement)-[:BY_PERSON]->(p:Person)
OPTIONAL MATCH (r)-[:HANDLED_BY]->(h:Handler)
OPTIONAL MATCH (r)-[:SUBMITTED_BY]->(ph:Phone)
OPTIONAL MATCH (r)-[:PAID_TO]->(ac:Account)
RETURN r.reimbursement_id AS reimbursement_id, p.person_id AS person_id,
       toString(r.submitted_date) AS submitted_date, r.amount_claimed AS amount_claimed,
       r.amount_paid AS amount_paid, h.key AS handler_id, ph.key AS submitter_phone,
       ac.key AS payee_account
