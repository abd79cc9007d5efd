"""``python -m tools.department_adapter --department fire --amqp-url amqp://...``"""

import sys

from .adapter import main

if __name__ == "__main__":
    sys.exit(main())
