# A broken element plugin for tests: its assemble() dies.
import os

from buildstream import Element


class Broken(Element):
    BST_FORMAT_VERSION = 0

    def configure(self, node):
        pass

    def preflight(self):
        pass

    def get_unique_key(self):
        return {'broken': 'dies'}

    def configure_sandbox(self, sandbox):
        pass

    def stage(self, sandbox):
        pass

    def assemble(self, sandbox):
        os._exit(3)


def setup():
    return Broken
