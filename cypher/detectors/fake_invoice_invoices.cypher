// stage: fake_invoice, invoices and their referrals
// Each invoice of a window reimbursement with its issuer and whether the claimant was
// referred to that issuer in the $valid days up to the issue date (null when the city
// has no referrals: $with_referrals false). The fake_invoice detector cuts the invoice
// numbers into series and runs (pads) and weighs the unreferred invoices.
MATCH (r:Reimbursement)-[:HAS_INVOICE]->(v:Invoice)-[:ISSUED_BY]->(x)
MATCH (r)-[:BY_PERSON]->(p:Person)
RETURN v.invoice_id AS invoice_id, r.reimbursement_id AS rid,
       coalesce(x.institution_id, x.pharmacy_id) AS issuer_id,
       toString(v.issue_date) AS issue_date,
       CASE WHEN $with_referrals THEN EXISTS {
           MATCH ()-[f:REFERRED]->(x)
           WHERE f.person_id = p.person_id AND f.date <= v.issue_date
             AND f.date >= v.issue_date - duration({days: $valid})
       } END AS referred
