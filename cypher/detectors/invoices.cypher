// table: invoices
// Invoices of window reimbursements and who issued them (external issuers included).
MATCH (r:Reimbursement)-[:HAS_INVOICE]->(v:Invoice)-[:ISSUED_BY]->(x)
RETURN v.invoice_id AS invoice_id, r.reimbursement_id AS reimbursement_id,
       coalesce(x.institution_id, x.pharmacy_id) AS issuer_id,
       toString(v.issue_date) AS issue_date, v.amount AS amount, v.visit_type AS visit_type,
       v.diagnosis_code AS diagnosis_code
