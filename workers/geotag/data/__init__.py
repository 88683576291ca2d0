"""Country data files of the gazetteer, one `XX.json` per country.

A regular package so that wheels ship the files as package data.
"""
