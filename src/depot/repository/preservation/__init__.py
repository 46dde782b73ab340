"""Preservation (OAIS archival storage): a BagIt bag per published version, rebuild from bags, fixity audit."""
