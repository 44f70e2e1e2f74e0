"""``python -m ocr_audit_verifier`` (or ``python -m audit.transparency.verifier``): the command."""

from .offline import main

if __name__ == "__main__":  # not when a spawned worker process imports it again
    main()
