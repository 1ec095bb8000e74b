# A BuildElement whose own assemble() also runs a command through
# sandbox.run(): it records the machine the sandbox runs (native or emulated).
import os

from buildstream import BuildElement, SandboxFlags


class SandboxEchoElement(BuildElement):
    BST_FORMAT_VERSION = 2

    def configure(self, node):
        self.message = self.node_subst_member(node, 'message')
        del node['message']
        super().configure(node)

    def get_unique_key(self):
        key = super().get_unique_key()
        key['message'] = self.message
        return key

    def assemble(self, sandbox):
        install = self.get_variable('install-root')
        out = os.path.join(install, 'out')
        code = sandbox.run(['sh', '-c', 'mkdir -p {0} && uname -m > {0}/machine && '
                            'echo "{1}" > {0}/message'.format(out, self.message)],
                           SandboxFlags.ROOT_READ_ONLY)
        if code != 0:
            raise RuntimeError('sandbox.run exited with {}'.format(code))
        print('sandbox_echo: a print() goes to the log, not onto the pipe')
        return super().assemble(sandbox)


def setup():
    return SandboxEchoElement
