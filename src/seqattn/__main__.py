import sys

from seqattn.program import main

sys.exit(main())
