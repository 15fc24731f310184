// node --import dist/test/arm64/frida-loader.js: in that process, `import('frida')` loads
// qemu-frida.js, the arm64 programs' stand-in for the frida package.
import { register } from 'node:module';

register(new URL('./frida-resolve.js', import.meta.url));
