// stage: shared_card, same-terminal co-occurrence
// Pairs of cards settled on the same terminal (the provider itself when no terminal is
// recorded) within $window seconds of each other on at least $min_days distinct days.
// The shared_card detector's tied pairs are among them (it also drops settlements
// outside bursts and in crowds); when there are none and no card was used after its
// holder's death or its loss, the detector has nothing to find.
// One provider at a time (a CALL per provider), so the server holds one provider's
// settlements, not the city's: at 300k persons the whole-city grouping overran a 1 GB
// heap's 512 MiB of transaction memory.
MATCH (h) WHERE h:Institution OR h:Pharmacy
CALL (h) {
  MATCH (k:Card)<-[:WITH_CARD]-(c:Claim)-[:AT]->(h)
  OPTIONAL MATCH (c)-[:ON_TERMINAL]->(t:Terminal)
  WITH coalesce(t.key, '') AS terminal, k.card_id AS card,
       datetime({datetime: c.start_time, timezone: 'UTC'}).epochSeconds AS e
  WITH terminal, card, e, e / $window AS slot0
  UNWIND [slot0, slot0 + 1] AS slot
  WITH terminal, slot, collect({card: card, e: e}) AS ss
  WHERE size(ss) >= 2
  UNWIND ss AS x
  UNWIND ss AS y
  WITH terminal, x, y
  WHERE x.card < y.card AND abs(x.e - y.e) <= $window
  UNWIND [x.e / 86400, y.e / 86400] AS day
  WITH terminal, x.card AS a, y.card AS z, count(DISTINCT day) AS days
  WHERE days >= $min_days
  RETURN terminal, a, z, days
}
RETURN coalesce(h.institution_id, h.pharmacy_id) AS provider, terminal, a, z, days
ORDER BY provider, terminal, a, z
