import sys

from gaussequiv.cli import main

sys.exit(main())
