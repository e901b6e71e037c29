"""The spawned child's entry point (where forking is not safe): see :mod:`.child`."""

from pytest_medhelm.engine.process.child import main

main()
