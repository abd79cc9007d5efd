"""Pure domain code of the events service (no nameko, no database): the subcategory
catalogue, case numbers, distances, image sniffing and the CAP / Open311 renderings."""
