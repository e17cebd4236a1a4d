// table: pharmacies
// Designated retail pharmacies. The address is not loaded into Neo4j.
MATCH (x:Pharmacy)
RETURN x.pharmacy_id AS pharmacy_id, x.name AS name, x.region_code AS region_code,
       null AS address, x.lat AS lat, x.lon AS lon, x.chain_id AS chain_id
