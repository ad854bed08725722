export {
  createSignInService,
  type IssuedTokens,
  type MfaRequired,
  type SecondFactor,
  type SignInResult,
  type SignInService,
  type SignInServiceOptions,
  type SocialSignIn,
} from './sign-in.service';
