# Collects the `initial-script` public data of the build dependencies into
# one script file each (in the manner of freedesktop-sdk's
# collect_initial_scripts), written under %{install-root}.
import os

from buildstream import Element, Scope


class InitialScriptsElement(Element):
    BST_FORMAT_VERSION = 1
    BST_FORBID_RDEPENDS = True
    BST_FORBID_SOURCES = True

    def configure(self, node):
        self.node_validate(node, ['path'])
        self.path = self.node_subst_member(node, 'path')

    def preflight(self):
        pass

    def get_unique_key(self):
        return {'path': self.path}

    def configure_sandbox(self, sandbox):
        pass

    def stage(self, sandbox):
        pass

    def assemble(self, sandbox):
        install = self.get_variable('install-root')
        target = os.path.join(sandbox.get_directory(), install.lstrip(os.sep),
                              self.path.lstrip(os.sep))
        os.makedirs(target, exist_ok=True)
        for dep in self.dependencies(Scope.BUILD):
            public = dep.get_public_data('initial-script')
            if public and 'script' in public:
                script = self.node_subst_member(public, 'script')
                name = os.path.join(target, dep.normal_name)
                with open(name, 'w') as f:
                    f.write(script)
                os.chmod(name, 0o755)
                self.info('collected the initial script of {}'.format(dep.name))
        return install


def setup():
    return InitialScriptsElement
