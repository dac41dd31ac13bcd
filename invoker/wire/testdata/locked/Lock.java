// Test equipment: locks a parameter value the way OpenWhisk's controller does (javax.crypto AES/GCM/NoPadding,
// 128-bit tag, random IV; output base64 of int32 IV length, IV, ciphertext), so params_test.go checks NEMO's
// decryption against the JDK's encryption rather than against itself.
//
//   java Lock.java <base64 key> <iv length> <plaintext>
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class Lock {
    public static void main(String[] args) throws Exception {
        byte[] key = Base64.getDecoder().decode(args[0]);
        byte[] iv = new byte[Integer.parseInt(args[1])];
        new SecureRandom().nextBytes(iv);
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, iv));
        byte[] sealed = c.doFinal(args[2].getBytes(StandardCharsets.UTF_8));
        ByteBuffer out = ByteBuffer.allocate(4 + iv.length + sealed.length);
        out.putInt(iv.length).put(iv).put(sealed);
        System.out.println(Base64.getEncoder().encodeToString(out.array()));
    }
}
