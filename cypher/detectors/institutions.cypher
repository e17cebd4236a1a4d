// table: institutions
// Designated institutions (external ones, known only from referrals and invoices, are
// left out). The address is not loaded into Neo4j and comes back empty.
MATCH (i:Institution)
WHERE NOT coalesce(i.external, false)
RETURN i.institution_id AS institution_id, i.name AS name, i.level AS level,
       i.ownership AS ownership, i.region_code AS region_code, null AS address,
       i.lat AS lat, i.lon AS lon
