/*
 * ossl.h - OpenSSL (and libevent's binding to it) loaded when first used.
 *
 * Linked, libssl and libcrypto cost every start of tempest some 4 ms of
 * CPU here (mostly the dynamic linker binding libcrypto's 21,000
 * relocations), and most starts never use them: the commands
 * (sendmail, postqueue, spamc, learn), local delivery, the filter.  So
 * tempest is built against their headers but not linked to them; a
 * source file that calls OpenSSL includes this header after its own
 * <openssl/...> includes (it includes the ones it needs itself), and
 * each OpenSSL function it names is looked up at its call through a
 * table that the first call fills (dlopen() of the sonames the build
 * was configured with, dl.h).  A name missing from the table is a link
 * error, not a crash.
 *
 * A process that chroots loads the library first (ossl_require(): it
 * could not afterwards); one that cannot load it at a call dies with
 * the loader's message.  Not for fuzz targets or code that must run
 * without OpenSSL: the code outside TLS and SASL (queue ids, file
 * names, wiping secrets) uses getrandom() and explicit_bzero() from libc
 * instead.
 */
#ifndef TEMPEST_OSSL_H
#define TEMPEST_OSSL_H

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <event2/bufferevent_ssl.h>

/* The functions, in libssl (with libcrypto under it), then in
 * libevent_openssl. */
#define OSSL_SSL_FUNCS(X) \
	X(SSL_CIPHER_get_bits) \
	X(SSL_CIPHER_get_name) \
	X(SSL_CTX_check_private_key) \
	X(SSL_CTX_clear_options) \
	X(SSL_CTX_ctrl) \
	X(SSL_CTX_free) \
	X(SSL_CTX_get_ex_data) \
	X(SSL_CTX_load_verify_locations) \
	X(SSL_CTX_new) \
	X(SSL_CTX_set_cipher_list) \
	X(SSL_CTX_set_default_verify_paths) \
	X(SSL_CTX_set_ex_data) \
	X(SSL_CTX_set_num_tickets) \
	X(SSL_CTX_set_options) \
	X(SSL_CTX_set_session_id_context) \
	X(SSL_CTX_set_timeout) \
	X(SSL_CTX_set_tlsext_ticket_key_evp_cb) \
	X(SSL_CTX_set_verify) \
	X(SSL_CTX_use_PrivateKey_file) \
	X(SSL_CTX_use_certificate_chain_file) \
	X(SSL_ctrl) \
	X(SSL_free) \
	X(SSL_get0_peer_certificate) \
	X(SSL_get_SSL_CTX) \
	X(SSL_get_current_cipher) \
	X(SSL_get_verify_result) \
	X(SSL_get_version) \
	X(SSL_is_init_finished) \
	X(SSL_new) \
	X(SSL_session_reused) \
	X(SSL_set1_host) \
	X(SSL_set_hostflags) \
	X(SSL_set_verify) \
	X(SSL_shutdown) \
	X(SSL_write) \
	X(TLS_client_method) \
	X(TLS_server_method) \
	X(ASN1_INTEGER_set) \
	X(CRYPTO_get_ex_new_index) \
	X(CRYPTO_memcmp) \
	X(ERR_clear_error) \
	X(ERR_error_string_n) \
	X(ERR_get_error) \
	X(EVP_DecryptInit_ex) \
	X(EVP_EncryptInit_ex) \
	X(EVP_MAC_CTX_set_params) \
	X(EVP_PKEY_Q_keygen) \
	X(EVP_PKEY_free) \
	X(EVP_aes_256_cbc) \
	X(EVP_sha256) \
	X(HMAC) \
	X(OSSL_PARAM_construct_end) \
	X(OSSL_PARAM_construct_octet_string) \
	X(OSSL_PARAM_construct_utf8_string) \
	X(PEM_write_PrivateKey) \
	X(PEM_write_X509) \
	X(PKCS5_PBKDF2_HMAC) \
	X(RAND_bytes) \
	X(SHA256) \
	X(X509V3_EXT_conf_nid) \
	X(X509V3_set_ctx) \
	X(X509_EXTENSION_free) \
	X(X509_NAME_add_entry_by_txt) \
	X(X509_add_ext) \
	X(X509_free) \
	X(X509_get_serialNumber) \
	X(X509_get_subject_name) \
	X(X509_getm_notAfter) \
	X(X509_getm_notBefore) \
	X(X509_gmtime_adj) \
	X(X509_new) \
	X(X509_set_issuer_name) \
	X(X509_set_pubkey) \
	X(X509_set_version) \
	X(X509_sign) \
	X(X509_verify_cert_error_string)

#define OSSL_EVENT_FUNCS(X) \
	X(bufferevent_openssl_set_allow_dirty_shutdown) \
	X(bufferevent_openssl_socket_new)

enum ossl_fn {
#define OSSL_ENUM(n) OSSL_FN_##n,
	OSSL_SSL_FUNCS(OSSL_ENUM)
	OSSL_EVENT_FUNCS(OSSL_ENUM)
#undef OSSL_ENUM
	OSSL_FN_COUNT
};

/* Load the libraries now (a second call does nothing): 0, or -1 with a
 * malloc'ed *error_r. */
int ossl_load(char **error_r);

/* Load them now, fatal() when they do not load: a process about to
 * chroot (it could not afterwards), the master at start (to say so on
 * the terminal of `tempest start`). */
void ossl_require(void);

/* The address of function fn, loading the libraries at the first call
 * (ossl_require()). */
void *ossl_fn(enum ossl_fn fn);

#ifndef OSSL_NO_REDIRECT
#define SSL_CIPHER_get_bits (*(__typeof__(SSL_CIPHER_get_bits) *)ossl_fn(OSSL_FN_SSL_CIPHER_get_bits))
#define SSL_CIPHER_get_name (*(__typeof__(SSL_CIPHER_get_name) *)ossl_fn(OSSL_FN_SSL_CIPHER_get_name))
#define SSL_CTX_check_private_key (*(__typeof__(SSL_CTX_check_private_key) *)ossl_fn(OSSL_FN_SSL_CTX_check_private_key))
#define SSL_CTX_clear_options (*(__typeof__(SSL_CTX_clear_options) *)ossl_fn(OSSL_FN_SSL_CTX_clear_options))
#define SSL_CTX_ctrl (*(__typeof__(SSL_CTX_ctrl) *)ossl_fn(OSSL_FN_SSL_CTX_ctrl))
#define SSL_CTX_free (*(__typeof__(SSL_CTX_free) *)ossl_fn(OSSL_FN_SSL_CTX_free))
#define SSL_CTX_get_ex_data (*(__typeof__(SSL_CTX_get_ex_data) *)ossl_fn(OSSL_FN_SSL_CTX_get_ex_data))
#define SSL_CTX_load_verify_locations (*(__typeof__(SSL_CTX_load_verify_locations) *)ossl_fn(OSSL_FN_SSL_CTX_load_verify_locations))
#define SSL_CTX_new (*(__typeof__(SSL_CTX_new) *)ossl_fn(OSSL_FN_SSL_CTX_new))
#define SSL_CTX_set_cipher_list (*(__typeof__(SSL_CTX_set_cipher_list) *)ossl_fn(OSSL_FN_SSL_CTX_set_cipher_list))
#define SSL_CTX_set_default_verify_paths (*(__typeof__(SSL_CTX_set_default_verify_paths) *)ossl_fn(OSSL_FN_SSL_CTX_set_default_verify_paths))
#define SSL_CTX_set_ex_data (*(__typeof__(SSL_CTX_set_ex_data) *)ossl_fn(OSSL_FN_SSL_CTX_set_ex_data))
#define SSL_CTX_set_num_tickets (*(__typeof__(SSL_CTX_set_num_tickets) *)ossl_fn(OSSL_FN_SSL_CTX_set_num_tickets))
#define SSL_CTX_set_options (*(__typeof__(SSL_CTX_set_options) *)ossl_fn(OSSL_FN_SSL_CTX_set_options))
#define SSL_CTX_set_session_id_context (*(__typeof__(SSL_CTX_set_session_id_context) *)ossl_fn(OSSL_FN_SSL_CTX_set_session_id_context))
#define SSL_CTX_set_timeout (*(__typeof__(SSL_CTX_set_timeout) *)ossl_fn(OSSL_FN_SSL_CTX_set_timeout))
#define SSL_CTX_set_tlsext_ticket_key_evp_cb (*(__typeof__(SSL_CTX_set_tlsext_ticket_key_evp_cb) *)ossl_fn(OSSL_FN_SSL_CTX_set_tlsext_ticket_key_evp_cb))
#define SSL_CTX_set_verify (*(__typeof__(SSL_CTX_set_verify) *)ossl_fn(OSSL_FN_SSL_CTX_set_verify))
#define SSL_CTX_use_PrivateKey_file (*(__typeof__(SSL_CTX_use_PrivateKey_file) *)ossl_fn(OSSL_FN_SSL_CTX_use_PrivateKey_file))
#define SSL_CTX_use_certificate_chain_file (*(__typeof__(SSL_CTX_use_certificate_chain_file) *)ossl_fn(OSSL_FN_SSL_CTX_use_certificate_chain_file))
#define SSL_ctrl (*(__typeof__(SSL_ctrl) *)ossl_fn(OSSL_FN_SSL_ctrl))
#define SSL_free (*(__typeof__(SSL_free) *)ossl_fn(OSSL_FN_SSL_free))
#define SSL_get0_peer_certificate (*(__typeof__(SSL_get0_peer_certificate) *)ossl_fn(OSSL_FN_SSL_get0_peer_certificate))
#define SSL_get_SSL_CTX (*(__typeof__(SSL_get_SSL_CTX) *)ossl_fn(OSSL_FN_SSL_get_SSL_CTX))
#define SSL_get_current_cipher (*(__typeof__(SSL_get_current_cipher) *)ossl_fn(OSSL_FN_SSL_get_current_cipher))
#define SSL_get_verify_result (*(__typeof__(SSL_get_verify_result) *)ossl_fn(OSSL_FN_SSL_get_verify_result))
#define SSL_get_version (*(__typeof__(SSL_get_version) *)ossl_fn(OSSL_FN_SSL_get_version))
#define SSL_is_init_finished (*(__typeof__(SSL_is_init_finished) *)ossl_fn(OSSL_FN_SSL_is_init_finished))
#define SSL_new (*(__typeof__(SSL_new) *)ossl_fn(OSSL_FN_SSL_new))
#define SSL_session_reused (*(__typeof__(SSL_session_reused) *)ossl_fn(OSSL_FN_SSL_session_reused))
#define SSL_set1_host (*(__typeof__(SSL_set1_host) *)ossl_fn(OSSL_FN_SSL_set1_host))
#define SSL_set_hostflags (*(__typeof__(SSL_set_hostflags) *)ossl_fn(OSSL_FN_SSL_set_hostflags))
#define SSL_set_verify (*(__typeof__(SSL_set_verify) *)ossl_fn(OSSL_FN_SSL_set_verify))
#define SSL_shutdown (*(__typeof__(SSL_shutdown) *)ossl_fn(OSSL_FN_SSL_shutdown))
#define SSL_write (*(__typeof__(SSL_write) *)ossl_fn(OSSL_FN_SSL_write))
#define TLS_client_method (*(__typeof__(TLS_client_method) *)ossl_fn(OSSL_FN_TLS_client_method))
#define TLS_server_method (*(__typeof__(TLS_server_method) *)ossl_fn(OSSL_FN_TLS_server_method))
#define ASN1_INTEGER_set (*(__typeof__(ASN1_INTEGER_set) *)ossl_fn(OSSL_FN_ASN1_INTEGER_set))
#define CRYPTO_get_ex_new_index (*(__typeof__(CRYPTO_get_ex_new_index) *)ossl_fn(OSSL_FN_CRYPTO_get_ex_new_index))
#define CRYPTO_memcmp (*(__typeof__(CRYPTO_memcmp) *)ossl_fn(OSSL_FN_CRYPTO_memcmp))
#define ERR_clear_error (*(__typeof__(ERR_clear_error) *)ossl_fn(OSSL_FN_ERR_clear_error))
#define ERR_error_string_n (*(__typeof__(ERR_error_string_n) *)ossl_fn(OSSL_FN_ERR_error_string_n))
#define ERR_get_error (*(__typeof__(ERR_get_error) *)ossl_fn(OSSL_FN_ERR_get_error))
#define EVP_DecryptInit_ex (*(__typeof__(EVP_DecryptInit_ex) *)ossl_fn(OSSL_FN_EVP_DecryptInit_ex))
#define EVP_EncryptInit_ex (*(__typeof__(EVP_EncryptInit_ex) *)ossl_fn(OSSL_FN_EVP_EncryptInit_ex))
#define EVP_MAC_CTX_set_params (*(__typeof__(EVP_MAC_CTX_set_params) *)ossl_fn(OSSL_FN_EVP_MAC_CTX_set_params))
#define EVP_PKEY_Q_keygen (*(__typeof__(EVP_PKEY_Q_keygen) *)ossl_fn(OSSL_FN_EVP_PKEY_Q_keygen))
#define EVP_PKEY_free (*(__typeof__(EVP_PKEY_free) *)ossl_fn(OSSL_FN_EVP_PKEY_free))
#define EVP_aes_256_cbc (*(__typeof__(EVP_aes_256_cbc) *)ossl_fn(OSSL_FN_EVP_aes_256_cbc))
#define EVP_sha256 (*(__typeof__(EVP_sha256) *)ossl_fn(OSSL_FN_EVP_sha256))
#define HMAC (*(__typeof__(HMAC) *)ossl_fn(OSSL_FN_HMAC))
#define OSSL_PARAM_construct_end (*(__typeof__(OSSL_PARAM_construct_end) *)ossl_fn(OSSL_FN_OSSL_PARAM_construct_end))
#define OSSL_PARAM_construct_octet_string (*(__typeof__(OSSL_PARAM_construct_octet_string) *)ossl_fn(OSSL_FN_OSSL_PARAM_construct_octet_string))
#define OSSL_PARAM_construct_utf8_string (*(__typeof__(OSSL_PARAM_construct_utf8_string) *)ossl_fn(OSSL_FN_OSSL_PARAM_construct_utf8_string))
#define PEM_write_PrivateKey (*(__typeof__(PEM_write_PrivateKey) *)ossl_fn(OSSL_FN_PEM_write_PrivateKey))
#define PEM_write_X509 (*(__typeof__(PEM_write_X509) *)ossl_fn(OSSL_FN_PEM_write_X509))
#define PKCS5_PBKDF2_HMAC (*(__typeof__(PKCS5_PBKDF2_HMAC) *)ossl_fn(OSSL_FN_PKCS5_PBKDF2_HMAC))
#define RAND_bytes (*(__typeof__(RAND_bytes) *)ossl_fn(OSSL_FN_RAND_bytes))
#define SHA256 (*(__typeof__(SHA256) *)ossl_fn(OSSL_FN_SHA256))
#define X509V3_EXT_conf_nid (*(__typeof__(X509V3_EXT_conf_nid) *)ossl_fn(OSSL_FN_X509V3_EXT_conf_nid))
#define X509V3_set_ctx (*(__typeof__(X509V3_set_ctx) *)ossl_fn(OSSL_FN_X509V3_set_ctx))
#define X509_EXTENSION_free (*(__typeof__(X509_EXTENSION_free) *)ossl_fn(OSSL_FN_X509_EXTENSION_free))
#define X509_NAME_add_entry_by_txt (*(__typeof__(X509_NAME_add_entry_by_txt) *)ossl_fn(OSSL_FN_X509_NAME_add_entry_by_txt))
#define X509_add_ext (*(__typeof__(X509_add_ext) *)ossl_fn(OSSL_FN_X509_add_ext))
#define X509_free (*(__typeof__(X509_free) *)ossl_fn(OSSL_FN_X509_free))
#define X509_get_serialNumber (*(__typeof__(X509_get_serialNumber) *)ossl_fn(OSSL_FN_X509_get_serialNumber))
#define X509_get_subject_name (*(__typeof__(X509_get_subject_name) *)ossl_fn(OSSL_FN_X509_get_subject_name))
#define X509_getm_notAfter (*(__typeof__(X509_getm_notAfter) *)ossl_fn(OSSL_FN_X509_getm_notAfter))
#define X509_getm_notBefore (*(__typeof__(X509_getm_notBefore) *)ossl_fn(OSSL_FN_X509_getm_notBefore))
#define X509_gmtime_adj (*(__typeof__(X509_gmtime_adj) *)ossl_fn(OSSL_FN_X509_gmtime_adj))
#define X509_new (*(__typeof__(X509_new) *)ossl_fn(OSSL_FN_X509_new))
#define X509_set_issuer_name (*(__typeof__(X509_set_issuer_name) *)ossl_fn(OSSL_FN_X509_set_issuer_name))
#define X509_set_pubkey (*(__typeof__(X509_set_pubkey) *)ossl_fn(OSSL_FN_X509_set_pubkey))
#define X509_set_version (*(__typeof__(X509_set_version) *)ossl_fn(OSSL_FN_X509_set_version))
#define X509_sign (*(__typeof__(X509_sign) *)ossl_fn(OSSL_FN_X509_sign))
#define X509_verify_cert_error_string (*(__typeof__(X509_verify_cert_error_string) *)ossl_fn(OSSL_FN_X509_verify_cert_error_string))
#define bufferevent_openssl_set_allow_dirty_shutdown (*(__typeof__(bufferevent_openssl_set_allow_dirty_shutdown) *)ossl_fn(OSSL_FN_bufferevent_openssl_set_allow_dirty_shutdown))
#define bufferevent_openssl_socket_new (*(__typeof__(bufferevent_openssl_socket_new) *)ossl_fn(OSSL_FN_bufferevent_openssl_socket_new))
#endif

#endif
