// Money (in cents, summed exactly) and first/last dates of a lead's evidence: claims
// and window reimbursements by id.
CALL () {
  UNWIND $ids AS id
  MATCH (c:Claim {claim_id: id})
  RETURN toInteger(round(c.total_amount * 100)) AS total, toInteger(round(c.fund_amount * 100)) AS fund,
         date(c.start_time) AS d
  UNION ALL
  UNWIND $ids AS id
  MATCH (r:Reimbursement {reimbursement_id: id})
  RETURN toInteger(round(r.amount_claimed * 100)) AS total,
         toInteger(round(coalesce(r.amount_paid, 0) * 100)) AS fund, r.submitted_date AS d
}
RETURN sum(total) AS total_cents, sum(fund) AS fund_cents, toString(min(d)) AS first_seen,
       toString(max(d)) AS last_seen, count(*) AS found
