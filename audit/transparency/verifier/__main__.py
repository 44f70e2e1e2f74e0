"""``python -m ocr_audit_verifier`` (or ``python -m audit.transparency.verifier``): the command."""

from .offline import main

main()
