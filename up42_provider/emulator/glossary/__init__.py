"""The product glossary: collections, data products, order schemas and EULAs (both generations)."""
