// stage: shared_card, dead and lost cards
// Settlements dated after the death of the card's holder (of the claim's person when
// no card is recorded), or on a lost or cancelled card after its status date. The dead
// and the lost cards are few: the query starts from them, never from all claims.
CALL () {
  MATCH (who:Person)-[:HOLDS]->(k:Card)<-[:WITH_CARD]-(c:Claim)
  WHERE who.death_date IS NOT NULL AND date(c.start_time) > who.death_date
  RETURN c, k, who
  UNION
  MATCH (who:Person)<-[:BY_PERSON]-(c:Claim)
  WHERE who.death_date IS NOT NULL AND date(c.start_time) > who.death_date
    AND NOT (c)-[:WITH_CARD]->(:Card)
  RETURN c, null AS k, who
  UNION
  MATCH (who:Person)-[:HOLDS]->(k:Card)<-[:WITH_CARD]-(c:Claim)
  WHERE k.status IN ['lost', 'cancelled'] AND k.status_date IS NOT NULL
    AND date(c.start_time) > k.status_date
  RETURN c, k, who
}
WITH c, k, who, date(c.start_time) AS d
RETURN c.claim_id AS claim_id, k.card_id AS card_id, who.person_id AS holder, toString(d) AS d,
       CASE WHEN who.death_date IS NOT NULL AND d > who.death_date THEN 'dead'
            ELSE 'status' END AS kind
ORDER BY claim_id
