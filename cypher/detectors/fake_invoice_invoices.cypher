// stage: fake_invoice, invoices and their referrals
// Each invoice of a window reimbursement with its issuer and whether the claimant was
// referred to that issuer in the $valid days up to the issue date (null when the city
// has no referrals: $with_referrals false). The fake_invoice detector cuts the invoice
// numbers into series and runs (pads) and weighs the unreferred invoices. The referral is
// found from the patient (index referred_person), not by scanning every referral into a
// big hospital: 1.4 s instead of 33 s for the 3M-person city's 38,163 invoices.
MATCH (r:Reimbursement)-[:HAS_INVOICE]->(v:Invoice)-[:ISSUED_BY]->(x)
MATCH (r)-[:BY_PERSON]->(p:Person)
RETURN v.invoice_id AS invoice_id, r.reimbursement_id AS rid,
       coalesce(x.institution_id, x.pharmacy_id) AS issuer_id,
       toString(v.issue_date) AS issue_date,
       CASE WHEN $with_referrals THEN EXISTS {
           MATCH ()-[f:REFERRED {person_id: p.person_id}]->(y)
           WHERE y = x AND f.date <= v.issue_date
             AND f.date >= v.issue_date - duration({days: $valid})
       } END AS referred
