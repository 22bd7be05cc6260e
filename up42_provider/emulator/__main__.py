import sys

from up42_provider.emulator.cli import main

sys.exit(main())
