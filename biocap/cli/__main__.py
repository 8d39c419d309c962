"""`python -m biocap.cli` = the `biocap` command."""
import sys

from . import main

sys.exit(main())
