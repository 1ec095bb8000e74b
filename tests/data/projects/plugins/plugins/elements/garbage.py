# A broken element plugin for tests: its assemble() garbage.
import os

from buildstream import Element


class Broken(Element):
    BST_FORMAT_VERSION = 0

    def configure(self, node):
        pass

    def preflight(self):
        pass

    def get_unique_key(self):
        return {'broken': 'garbage'}

    def configure_sandbox(self, sandbox):
        pass

    def stage(self, sandbox):
        pass

    def assemble(self, sandbox):
        import __main__
        print('a print() is harmless')
        __main__._PROTO_OUT.write(b'this is not a frame at all, just garbage')
        time_to_wait = __import__('time').sleep(3600)


def setup():
    return Broken
