"""Example programs written the way legacy users wrote them (run by ``classify-shim demo``)."""
