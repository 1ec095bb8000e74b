# A broken element plugin for tests: its assemble() hangs.
import os

from buildstream import Element


class Broken(Element):
    BST_FORMAT_VERSION = 0

    def configure(self, node):
        pass

    def preflight(self):
        pass

    def get_unique_key(self):
        return {'broken': 'hangs'}

    def configure_sandbox(self, sandbox):
        pass

    def stage(self, sandbox):
        pass

    def assemble(self, sandbox):
        import time
        time.sleep(3600)


def setup():
    return Broken
