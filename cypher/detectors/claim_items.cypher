// table: claim_items
// Claim items: one INCLUDES relationship per item row (row_hash keeps repeated rows
// apart); name and kind come from the Item node.
MATCH (c:Claim)-[r:INCLUDES]->(i:Item)
RETURN c.claim_id AS claim_id, i.item_code AS item_code, i.item_name AS item_name,
       i.item_kind AS item_kind, r.quantity AS quantity, r.amount AS amount,
       r.row_hash AS _row_hash
