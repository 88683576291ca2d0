"""geotag worker: finds the places an article mentions.

Public surface: `gazetteer.Gazetteer` (load once per process) and
`tagger.tag_places(text, gazetteer) -> TagResult`; `stage` wires them to Kafka.
"""
